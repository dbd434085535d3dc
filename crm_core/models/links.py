"""Contact <-> company: a person may work for several companies (Bitrix24 allows it too).

``contact.company_id`` stays as the contact's *primary* company: the one the screen-pop shows and
the one a call from the contact is also logged on. Every primary company is also a row here, so
"the companies of a contact" and "the contacts of a company" are one query on this table. A listener
keeps that true for every writer (the seed, call logging, imports): whenever a contact is saved with
a primary company that has no row yet, the row is added in the same flush.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, event, func, insert, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UtcDateTime, utc_now
from .contact import Contact

__all__ = ["ContactCompany"]


class ContactCompany(Base):
    """One contact works for (or is otherwise tied to) one company."""

    __tablename__ = "contact_company"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())

    def __repr__(self) -> str:
        return f"ContactCompany(contact_id={self.contact_id!r}, company_id={self.company_id!r})"


@event.listens_for(Contact, "after_insert")
@event.listens_for(Contact, "after_update")
def _link_primary_company(_mapper: Any, connection: Connection, contact: Contact) -> None:
    if contact.company_id is None:
        return
    state = inspect(contact)
    if state.attrs.company_id.history.unchanged:  # an update that did not touch company_id
        return
    table = ContactCompany.__table__
    linked = connection.scalar(
        select(table.c.contact_id).where(
            table.c.contact_id == contact.id, table.c.company_id == contact.company_id
        )
    )
    if linked is None:
        connection.execute(
            insert(table).values(contact_id=contact.id, company_id=contact.company_id, created_at=utc_now())
        )
