"""The typed models, one module per aggregate, with the invariants the database keeps
(named CHECK constraints).

May import: `plumbing`.
"""

from workflow.models.accounts import ORGANISATION_TYPES, Organisation, Role, User
from workflow.models.base import Base
from workflow.models.campaign import Campaign, CampaignVersion
from workflow.models.commission import (
    Assessment,
    CommissionMember,
    CommissionSession,
    FundedPosts,
    Promotion,
    Score,
)
from workflow.models.documents import DOCUMENT_KINDS, ArchivedDocument
from workflow.models.dossier import STATES, Attachment, Avis, Decision, Dossier
from workflow.models.exports import EXPORT_KINDS, EXPORT_STATUSES, ExportJob
from workflow.models.instructors import CampaignInstructor
from workflow.models.integrations import ApiCall, ApiToken, Webhook, WebhookDelivery
from workflow.models.journal import AuditEvent, Counter, OutboxMail
from workflow.models.messages import Message
from workflow.models.partner import Cosignature
from workflow.models.scheduling import Notice, SchedulerLease
from workflow.models.security import SecurityEvent, SignInSession
from workflow.models.settings import Setting

__all__ = [
    "ArchivedDocument",
    "DOCUMENT_KINDS",
    "ApiCall",
    "ApiToken",
    "Webhook",
    "WebhookDelivery",
    "ORGANISATION_TYPES",
    "STATES",
    "Assessment",
    "Attachment",
    "AuditEvent",
    "Avis",
    "Base",
    "Campaign",
    "CampaignInstructor",
    "CampaignVersion",
    "Cosignature",
    "CommissionMember",
    "CommissionSession",
    "Counter",
    "Decision",
    "EXPORT_KINDS",
    "EXPORT_STATUSES",
    "ExportJob",
    "Message",
    "FundedPosts",
    "Notice",
    "Dossier",
    "Organisation",
    "OutboxMail",
    "Promotion",
    "Role",
    "SchedulerLease",
    "Score",
    "SecurityEvent",
    "Setting",
    "SignInSession",
    "User",
]
