"""costsim.power"""
