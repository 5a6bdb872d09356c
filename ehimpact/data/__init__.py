"""ehimpact.data"""
