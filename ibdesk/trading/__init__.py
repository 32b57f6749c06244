"""Trading: the OrderGate every order passes, risk checks, order ids, and the journal.

No Qt and no client library here: the gate talks to the broker through the OrderPort
protocol (ports.py), which ibdesk.broker implements.
"""
