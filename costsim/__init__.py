"""costsim: what it takes to train and serve AI models.

Layers (bottom-up): core (numpy) -> specs -> power, economics -> estimators -> sim -> api
-> sweep, report, validation -> cli, ui. See ARCHITECTURE notes in README.md.
"""

__version__ = "0.1.0"
