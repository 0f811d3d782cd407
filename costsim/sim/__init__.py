"""costsim.sim"""
