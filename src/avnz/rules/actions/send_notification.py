"""SendNotification: tell the merchant, by webhook event or email, that the rule matched.

`subject` and `message` may name the payment's details as placeholders (`PLACEHOLDERS`), filled
when the notification is delivered (`avnz.rules.notify`); anything else in braces is refused
when the rule is saved, so delivery never meets an unknown name. `{{` and `}}` are literal braces.
"""

from string import Formatter
from typing import Annotated, ClassVar, Literal

from pydantic import EmailStr, Field, StringConstraints, ValidationInfo, field_validator

from avnz.rules.actions.base import Action, ActionInput, Directive, Names, Notification
from avnz.rules.context import RuleContext

PLACEHOLDERS = ("rule_name", "payment_id", "amount", "currency", "country", "card_brand")


def check_template(text: str) -> str:
    """`text` if every `{name}` in it is a known placeholder, else ValueError naming it."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError as exc:  # an unmatched brace
        raise ValueError(f"{exc}; write {{{{ or }}}} for a literal brace") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {_known()}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format or conversion")
    return text


def _known() -> str:
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def fill(text: str, values: dict[str, str]) -> str:
    """`text` (checked by `check_template`) with its placeholders replaced by `values`."""
    return text.format_map(values)


class SendNotification(Action):
    NAME: ClassVar[str] = "send_notification"
    LABEL: ClassVar[str] = "Send a notification"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (
        ActionInput("channel", "choice", "Channel", ("webhook", "email")),
        ActionInput("recipients", "list", "Recipients (emails, comma-separated)"),
        ActionInput("subject", "text", "Subject"),
        ActionInput("message", "textarea", "Message"),
    )
    channel: Literal["webhook", "email"]
    recipients: list[EmailStr] = Field(default_factory=list, max_length=10, validate_default=True)
    subject: Annotated[str, StringConstraints(max_length=200)] | None = None
    message: Annotated[str, StringConstraints(min_length=1, max_length=1000)]

    @field_validator("recipients")
    @classmethod
    def _recipients_fit_channel(cls, recipients: list[str], info: ValidationInfo) -> list[str]:
        channel = info.data.get("channel")
        if channel == "email" and not recipients:
            raise ValueError("email needs 1 to 10 recipients")
        if channel == "webhook" and recipients:
            raise ValueError("webhook notifications go to the company's endpoints: no recipients")
        return recipients

    @field_validator("subject", "message")
    @classmethod
    def _placeholders(cls, text: str | None) -> str | None:
        return None if text is None else check_template(text)

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Queue the notification on the directive; it is delivered after the payment is
        written."""
        directive.notifications.append(
            Notification(
                channel=self.channel,
                recipients=tuple(self.recipients),
                subject=self.subject,
                message=self.message,
            )
        )

    def describe(self, names: Names) -> str:
        to = ", ".join(self.recipients) or "the company's webhook endpoints"
        return f"Notify by {self.channel} ({to})"
