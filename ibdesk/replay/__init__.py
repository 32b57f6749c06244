"""Record and replay: the tape of a session, the recorder that writes it, the player that reads
it back into a desk's stores.

Every change enters the desk's stores as one frozen snapshot (a quote, an order's state, a
fill, a bar, an account figure, a notice); the recorder listens to the stores and writes those
snapshots, with the time they arrived, to a tape (``tape.py``, format in docs/tape.md). The
player feeds them back into fresh stores on an injected clock, so the same panels, charts and
blotter show the session again, and nothing can reach a broker.
"""
