"""costsim.estimators"""
