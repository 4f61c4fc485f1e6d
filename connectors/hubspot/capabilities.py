"""What HubSpot's APIs allow: CRM batches of 100, search pages of 200, list membership pages of
250; no API that sends a campaign to given contacts and no campaign member statuses."""

from mopsgate.crm.capabilities import Capabilities

CAPABILITIES = Capabilities(
    read_batch=100,  # crm batch/read
    update_batch=100,  # crm batch/update
    list_add_batch=100,  # lists memberships/add, as the client chunks it
    list_remove_batch=100,
    status_batch=100,
    trigger_batch=100,
    delete_batch=100,  # crm batch/archive
    can_trigger=False,  # sends run from emails and workflows inside HubSpot
    can_schedule=False,
    can_set_campaign_status=False,  # attribution comes from reports, not a settable ladder
    send_audiences_named=True,
    search_page=200,
    list_page=500,
    member_page=250,
    campaign_page=100,
    campaign_member_page=1000,
    list_objects=("list",),
    campaign_objects=("campaign",),
    can_merge=True,  # crm/v3/objects/contacts/merge, two records a call
    membership_notes="HubSpot does not report a contact's campaigns (campaign attribution is "
    "only readable per campaign), so 'campaigns' is always empty here; use "
    "campaign_performance or get_activities on a campaign instead.",
)
