"""costsim.economics"""
