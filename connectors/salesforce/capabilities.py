"""What Salesforce's REST API allows: sObject Collections of 200 records, SOQL pages of 2,000;
campaigns record members and statuses but send no email (a connected platform does, out of
sight), so the lists emails go to are never named."""

from mopsgate.connectors.salesforce import ids
from mopsgate.crm.capabilities import Capabilities

BATCH = 200  # sObject Collections, and Id IN (...) reads of the same size
PAGE = 2000  # SOQL batchSize ceiling

CAPABILITIES = Capabilities(
    read_batch=BATCH,
    update_batch=BATCH,
    list_add_batch=BATCH,
    list_remove_batch=BATCH,
    status_batch=BATCH,
    trigger_batch=BATCH,
    delete_batch=BATCH,
    can_trigger=False,
    can_schedule=False,
    can_set_campaign_status=True,  # CampaignMember.Status on the CampaignMemberStatus ladder
    send_audiences_named=False,  # lists are emailed by Marketing Cloud / Account Engagement
    search_page=PAGE,
    list_page=PAGE,
    member_page=PAGE,
    campaign_page=PAGE,
    campaign_member_page=PAGE,
    list_objects=(ids.CAMPAIGN,),  # lists are Campaigns of Type 'List'
    campaign_objects=(ids.CAMPAIGN,),
)
