"""Storage for evidence: one experiment design per project and the history of its evaluations.

An evaluation row keeps everything needed to reproduce it: the design as it was,
a fingerprint of the data (row counts, time range and a hash of the aggregated
series) and the code and engine versions that produced the results.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stadslab.core.database import Base, Timestamped, utcnow
from stadslab.labs import models as _labs  # noqa: F401  (projects: FK target)


class ExperimentDesign(Timestamped, Base):
    __tablename__ = "experiment_designs"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    design: Mapped[dict] = mapped_column(JSON)


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    design: Mapped[dict] = mapped_column(JSON)
    fingerprint: Mapped[dict] = mapped_column(JSON)
    code_version: Mapped[str] = mapped_column(String(60))
    engine_version: Mapped[str] = mapped_column(String(20))
    results: Mapped[dict] = mapped_column(JSON)
