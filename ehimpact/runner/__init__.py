"""ehimpact.runner"""
