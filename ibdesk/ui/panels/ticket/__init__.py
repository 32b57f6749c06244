"""The order ticket: the form (``form``), the Quick strip (``quick``), the price field that
steps by ticks (``price_edit``) and its words and figures without Qt (``text``)."""

from ibdesk.ui.panels.ticket.form import TicketPanel
from ibdesk.ui.panels.ticket.price_edit import PriceEdit
from ibdesk.ui.panels.ticket.quick import QuickTicket

__all__ = ["PriceEdit", "QuickTicket", "TicketPanel"]
