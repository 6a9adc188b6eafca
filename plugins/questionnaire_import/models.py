"""questionnaire_import's own table: the webhook deliveries seen recently, so a replay is refused."""

from __future__ import annotations

import peewee

from core.api import BaseModel, UTCDateTimeField, utcnow


class WebhookDelivery(BaseModel):
    """One webhook delivery id taken, with when; rows older than the replay window are pruned."""

    delivery_id = peewee.CharField(max_length=100, unique=True)
    received_at = UTCDateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "questionnaire_import_delivery"
