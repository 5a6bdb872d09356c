"""ehimpact.costs"""
