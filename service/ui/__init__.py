"""The browser page at ``/ui``: static HTML, CSS and JavaScript (service/ui/static/), served with strict
security headers by ``service/ui/routes.py``, and the training plots of each loaded model."""
