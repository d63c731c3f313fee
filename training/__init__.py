"""Training for the two models: ``python -m training {tabular,digits,all}``."""
