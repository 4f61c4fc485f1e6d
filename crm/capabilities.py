"""What a vendor's API allows, as one typed, frozen object per connector.

The core and the tools size and gate their work from this (how many records one write call
takes, how long a page may be, whether the vendor can trigger a campaign at all) instead of
knowing vendors by name. Each vendor declares its own in ``connectors/<vendor>/capabilities.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    # most records one vendor call reads or writes
    read_batch: int  # people per batch read (get_people)
    update_batch: int  # people per field update (and opt-out)
    list_add_batch: int
    list_remove_batch: int
    status_batch: int  # people per campaign-status change
    trigger_batch: int  # people per campaign trigger
    delete_batch: int
    # what the vendor can do at all
    can_trigger: bool  # request a campaign for given people
    can_schedule: bool  # schedule a campaign run
    can_set_campaign_status: bool  # campaigns have a member status ladder one can set
    # Whether the vendor names every list its email sends go to (as campaign audiences), so a
    # list no active email campaign names is known not to feed sends. False where sends are
    # run by a platform the connector cannot see: there the compliance floor treats every
    # list as a send list unless the manifest declares it is not one.
    send_audiences_named: bool
    # most items one vendor call returns
    search_page: int
    list_page: int
    member_page: int  # list members
    campaign_page: int
    campaign_member_page: int
    # the vendor's objects that are lists and campaigns, as refs name them
    list_objects: tuple[str, ...]
    campaign_objects: tuple[str, ...]
    # what a person's memberships answer cannot show, said plainly
    membership_notes: str = ""
    # Setting a campaign status on someone who is not a member: True when the vendor then makes
    # them a member (Marketo's program status sync), False when it refuses (Salesforce). The
    # plan says which before anything is approved, instead of the apply finding out.
    status_adds_members: bool = False
    # True when a status at or below the member's current step is refused (Marketo's
    # progression only moves forward).
    status_forward_only: bool = False
    # The vendor has a merge endpoint for person records its REST API exposes (Salesforce
    # merges only through its SOAP API).
    can_merge: bool = False

    def batch_for(self, operation: str) -> int:
        """Records per vendor call when applying a plan of ``operation``."""
        return {
            "update_fields": self.update_batch,
            "opt_out": self.update_batch,
            "add_to_list": self.list_add_batch,
            "remove_from_list": self.list_remove_batch,
            "set_campaign_status": self.status_batch,
            "trigger_campaign": self.trigger_batch,
            "delete_person": self.delete_batch,
        }.get(operation, self.update_batch)
