"""ehimpact.report"""
