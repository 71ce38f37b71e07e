"""``teleforge review``: the local review web app (Starlette + uvicorn, teleforge[review]).

The data side is :mod:`teleforge.curation.review_data`; this package only serves it:
a JSON API, camera frames, cached thumbnails and one static page. It binds to
127.0.0.1 and every request must carry the per-run token (``?token=`` or the
``X-Teleforge-Token`` header), compared in constant time.
"""

from teleforge.workflows.review.server import ReviewServer, make_app

__all__ = ["ReviewServer", "make_app"]
