"""Nested schemas shared by every room event: visitor, agent, user references, messages."""

from marshmallow import EXCLUDE, Schema, fields, post_load

from .. import records
from .fields import AddressList, BoundedList, FirstAddress, OptionalDict, OptionalList, Timestamp


def text(**kwargs):
    """An optional string that may also arrive as null."""
    return fields.String(load_default=None, allow_none=True, **kwargs)


class Tolerant(Schema):
    """Base for Rocket.Chat shapes: keys no version documents are ignored, not errors."""

    class Meta:
        unknown = EXCLUDE


class VisitorSchema(Tolerant):
    """The room's visitor (`getLivechatRoomGuestInfo`), in every era's shape."""

    _id = text()
    token = text()
    name = text()
    username = text()
    department = text()
    ip = text()
    os = text()
    browser = text()
    customFields = OptionalDict()
    email = AddressList("address")
    phone = AddressList("phoneNumber")

    @post_load
    def build(self, data, **kwargs) -> records.Contact:
        return records.Contact(
            id=data["_id"] or None, token=data["token"], name=data["name"],
            username=data["username"], emails=data["email"], phones=data["phone"],
            department=data["department"], ip=data["ip"], browser=data["browser"],
            os=data["os"], custom_fields=data["customFields"],
        )


class AgentSchema(Tolerant):
    """The serving agent; 0.x sent the whole emails array, later versions one string."""

    _id = text()
    username = text()
    name = text()
    email = FirstAddress()
    customFields = OptionalDict()

    @post_load
    def build(self, data, **kwargs) -> records.Agent:
        return records.Agent(
            id=data["_id"], username=data["username"], name=data["name"],
            email=data["email"], custom_fields=data["customFields"],
        )


class UserRefSchema(Tolerant):
    """A `{_id, username, name?, ts?}` reference: message author, servedBy, closedBy."""

    _id = text()
    username = text()
    name = text()
    ts = Timestamp(load_default=None, allow_none=True)


class AttachmentSchema(Tolerant):
    """A message attachment; the URL key depends on the media type."""

    title = text()
    title_link = text()
    image_url = text()
    audio_url = text()
    video_url = text()
    type = text()
    image_type = text()
    audio_type = text()
    video_type = text()
    size = fields.Integer(load_default=None, allow_none=True)

    @post_load
    def build(self, data, **kwargs) -> records.Attachment:
        url = data["title_link"] or data["image_url"] or data["audio_url"] or data["video_url"]
        media = data["image_type"] or data["audio_type"] or data["video_type"] or data["type"]
        return records.Attachment(title=data["title"], url=url, type=media, size=data["size"])


class FileUploadSchema(Tolerant):
    """`fileUpload`: the absolute, signed URL Rocket.Chat adds for uploaded files."""

    publicFilePath = text()
    type = text()
    size = fields.Integer(load_default=None, allow_none=True)


class FileSchema(Tolerant):
    """`file`: the uploaded file's id, name and MIME type."""

    _id = text()
    name = text()
    type = text()


def blocks_text(blocks) -> str | None:
    """The visible text of a blocks-only message, joined by newlines."""
    found, pending = [], [blocks]
    # An explicit stack: block trees come from the sender and may nest arbitrarily deep.
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            value = node.get("text")
            if isinstance(value, str) and value:
                found.append(value)
            pending.extend(reversed([v for v in node.values() if isinstance(v, (dict, list))]))
        elif isinstance(node, list):
            pending.extend(reversed(node))
    return "\n".join(found) or None


def message_attachments(data) -> list[records.Attachment]:
    """Prefer the absolute `fileUpload` link for an uploaded file, else the listed attachments."""
    upload = data["fileUpload"]
    if upload and upload["publicFilePath"]:
        listed = data["attachments"]
        title = (data["file"] or {}).get("name") or (listed[0].title if listed else None)
        return [records.Attachment(
            title=title, url=upload["publicFilePath"], type=upload["type"], size=upload["size"],
        )]
    return data["attachments"]


class MessageSchema(Tolerant):
    """One entry of `messages[]`; 0.x entries have neither `_id` nor `u`."""

    _id = text()
    u = fields.Nested(UserRefSchema, load_default=None, allow_none=True)
    username = text()
    msg = text()
    blocks = BoundedList(fields.Raw(), load_default=None, allow_none=True)
    ts = Timestamp(required=True)
    editedAt = Timestamp(load_default=None, allow_none=True)
    agentId = text()
    closingMessage = fields.Boolean(load_default=False, allow_none=True)
    attachments = OptionalList(fields.Nested(AttachmentSchema))
    file = fields.Nested(FileSchema, load_default=None, allow_none=True)
    fileUpload = fields.Nested(FileUploadSchema, load_default=None, allow_none=True)

    @post_load
    def build(self, data, **kwargs) -> records.Message:
        author = data["u"] or {}
        text_ = data["msg"] if data["msg"] is not None else blocks_text(data["blocks"])
        return records.Message(
            id=data["_id"],
            role="agent" if data["agentId"] else "visitor",
            author=records.Participant(
                id=author.get("_id") or data["agentId"],
                username=author.get("username") or data["username"],
                name=author.get("name"),
            ),
            text=text_,
            sent_at=data["ts"],
            edited_at=data["editedAt"],
            closing=bool(data["closingMessage"]),
            attachments=message_attachments(data),
        )
