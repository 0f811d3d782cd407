"""costsim.sweep"""
