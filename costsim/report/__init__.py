"""costsim.report"""
