"""One schema per Rocket.Chat webhook `type`, each building a normalized Event."""

from marshmallow import ValidationError, fields, post_load, validates

from .. import records
from .fields import FirstAddress, OptionalDict, OptionalList, Storable, Timestamp
from .parts import (
    AgentSchema, MessageSchema, Tolerant, UserRefSchema, VisitorSchema, text,
)

# The fixed room id of the sample Rocket.Chat posts from "Send Test" (webhook.test).
TEST_ROOM_ID = "fasd6f5a4sd6f8a4sdf"

CLOSERS = {"user": "agent", "visitor": "visitor"}


def served_agent(ref: dict | None) -> records.Agent | None:
    """An Agent from a `servedBy`/`oldServedBy` reference, which carries only ids."""
    if not ref:
        return None
    return records.Agent(id=ref["_id"], username=ref["username"], name=ref["name"], email=None)


class RoomEventSchema(Tolerant):
    """The room payload every chat event shares (`getLivechatRoomGuestInfo` plus extras)."""

    kind = "unknown"

    type = fields.String(required=True)
    _id = fields.String(required=True, validate=Storable())
    label = text()
    topic = text()
    createdAt = Timestamp(load_default=None, allow_none=True)
    lastMessageAt = Timestamp(load_default=None, allow_none=True)
    tags = OptionalList(fields.String())
    customFields = OptionalDict()
    visitor = fields.Nested(VisitorSchema, required=True)
    agent = fields.Nested(AgentSchema, load_default=None, allow_none=True)
    crmData = fields.Raw(load_default=None, allow_none=True)
    messages = OptionalList(fields.Nested(MessageSchema))
    departmentId = text()
    oldDepartmentId = text()
    servedBy = fields.Nested(UserRefSchema, load_default=None, allow_none=True)
    oldServedBy = fields.Nested(UserRefSchema, load_default=None, allow_none=True)
    closedAt = Timestamp(load_default=None, allow_none=True)
    closedBy = fields.Nested(UserRefSchema, load_default=None, allow_none=True)
    closer = text()

    @validates("_id")
    def room_id_not_empty(self, value, data_key):
        if not value.strip():
            raise ValidationError("The room id must not be empty.")

    def event_kind(self, data) -> str:
        return self.kind

    def occurred_at(self, data):
        return data["lastMessageAt"] or data["createdAt"]

    @post_load
    def build(self, data, **kwargs) -> records.Event:
        closed_by = data["closedBy"]
        return records.Event(
            id=None,
            kind=self.event_kind(data),
            source_type=data["type"],
            test=data["_id"] == TEST_ROOM_ID,
            occurred_at=self.occurred_at(data),
            received_at=None,
            conversation=records.Conversation(
                id=data["_id"], label=data["label"], topic=data["topic"],
                department_id=data["departmentId"],
                previous_department_id=data["oldDepartmentId"],
                tags=data["tags"], custom_fields=data["customFields"],
                created_at=data["createdAt"], last_message_at=data["lastMessageAt"],
                closed_at=data["closedAt"],
                closed_by=records.Participant(closed_by["_id"], closed_by["username"], closed_by["name"])
                if closed_by else None,
                closer=CLOSERS.get(data["closer"]),
                crm_data=data["crmData"],
            ),
            contact=data["visitor"],
            agent=data["agent"] or served_agent(data["servedBy"]),
            previous_agent=served_agent(data["oldServedBy"]),
            messages=data["messages"],
            offline_message=None,
        )


class SessionStartSchema(RoomEventSchema):
    kind = "chat.started"


class SessionQueuedSchema(RoomEventSchema):
    kind = "chat.queued"


class SessionTakenSchema(RoomEventSchema):
    kind = "chat.taken"

    def occurred_at(self, data):
        served = data["servedBy"]
        return (served and served["ts"]) or super().occurred_at(data)


class SessionForwardedSchema(SessionTakenSchema):
    """Agent transfers carry `oldServedBy`; department transfers carry `oldDepartmentId`."""

    kind = "chat.forwarded"

    def occurred_at(self, data):
        if data["oldServedBy"]:
            return super().occurred_at(data)
        return RoomEventSchema.occurred_at(self, data)


class SessionClosedSchema(RoomEventSchema):
    kind = "chat.closed"

    def occurred_at(self, data):
        return data["closedAt"] or super().occurred_at(data)


class SessionEditedSchema(RoomEventSchema):
    kind = "chat.updated"


class LeadCaptureSchema(RoomEventSchema):
    kind = "lead.captured"


class MessageEventSchema(RoomEventSchema):
    """A single new or edited message; `messages` holds exactly that one."""

    @validates("messages")
    def has_message(self, value, data_key):
        if not value:
            raise ValidationError("A Message event must carry the message.")

    def event_kind(self, data) -> str:
        return f"message.{data['messages'][0].role}"

    def occurred_at(self, data):
        message = data["messages"][0]
        return message.edited_at or message.sent_at


class OfflineVisitorSchema(Tolerant):
    """The offline form's name and email."""

    name = text()
    email = FirstAddress()


class OfflineMessageSchema(Tolerant):
    """`LivechatOfflineMessage`: not tied to a room; identical shape in every era."""

    type = fields.String(required=True)
    sentAt = Timestamp(load_default=None, allow_none=True)
    visitor = fields.Nested(OfflineVisitorSchema, required=True)
    message = fields.String(required=True, allow_none=True)

    @post_load
    def build(self, data, **kwargs) -> records.Event:
        visitor = data["visitor"]
        return records.Event(
            id=None, kind="offline.message", source_type=data["type"], test=False,
            occurred_at=data["sentAt"], received_at=None, conversation=None,
            contact=records.Contact(
                id=None, token=None, name=visitor["name"], username=None,
                emails=[visitor["email"]] if visitor["email"] else [],
            ),
            agent=None, previous_agent=None, messages=[],
            offline_message=records.OfflineMessage(
                name=visitor["name"], email=visitor["email"], text=data["message"],
                sent_at=data["sentAt"],
            ),
        )


SCHEMAS = {
    "LivechatSessionStart": SessionStartSchema,
    "LivechatSessionQueued": SessionQueuedSchema,
    "LivechatSessionTaken": SessionTakenSchema,
    "LivechatSessionForwarded": SessionForwardedSchema,
    "LivechatSession": SessionClosedSchema,
    "LivechatEdit": SessionEditedSchema,
    "LeadCapture": LeadCaptureSchema,
    "Message": MessageEventSchema,
    "LivechatOfflineMessage": OfflineMessageSchema,
}
