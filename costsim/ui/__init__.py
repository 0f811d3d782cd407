"""costsim.ui"""
