"""What Marketo's REST API allows (vendor-apis.md §2.4): 300 leads per lead-database call, 100
per Request Campaign, asset listings of 200, and a campaign audience named by its smart list."""

from mopsgate.connectors.marketo import ids
from mopsgate.crm.capabilities import Capabilities

CAPABILITIES = Capabilities(
    read_batch=300,  # leads.json?filterType=id takes 300 values
    update_batch=300,  # Sync Leads
    list_add_batch=300,
    list_remove_batch=300,
    status_batch=300,  # programs/{id}/members/status
    trigger_batch=100,  # campaigns/{id}/trigger
    delete_batch=300,
    can_trigger=True,  # requestable smart campaigns
    can_schedule=True,  # batch smart campaigns
    can_set_campaign_status=True,  # program progression (forward-only)
    status_adds_members=True,  # members/status.json creates the membership
    status_forward_only=True,
    can_merge=True,  # leads/{id}/merge.json, up to 3 losers a call
    send_audiences_named=True,
    search_page=300,
    list_page=200,  # the asset API's maxReturn
    member_page=300,
    campaign_page=200,
    campaign_member_page=300,
    list_objects=(ids.LIST,),
    campaign_objects=ids.CAMPAIGN_OBJECTS,
    membership_notes="Marketo lists here are static lists; smart-list membership is not "
    "readable over the REST API. Campaigns are programs with the person's progression status.",
)
