"""costsim.specs"""
