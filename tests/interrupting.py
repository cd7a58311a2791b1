"""A real Pipeline that stops after ``n`` batches, as a kill would (resume tests)."""


class Interrupt(Exception):
    pass


class StopsAfter:
    """Wraps a real Pipeline and raises :class:`Interrupt` after ``n`` batches."""

    def __init__(self, pipe, n):
        self.pipe, self.n = pipe, n

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def predict_batch(self, *args, **kwargs):
        if self.n == 0:
            raise Interrupt
        self.n -= 1
        return self.pipe.predict_batch(*args, **kwargs)
