from ecabinet.errors import ECabinetError


class WrongState(ECabinetError):
    code = "meeting_wrong_state"
    status = 409
    title = "That is not possible in the meeting's current state"


class StaleVersion(ECabinetError):
    code = "stale_version"
    status = 409
    title = "Someone else changed this first; reload and try again"


class ItemWrongStatus(ECabinetError):
    code = "item_wrong_status"
    status = 409
    title = "That is not possible for the agenda item in its current status"


class DeadlinePassed(ECabinetError):
    code = "positions_deadline_passed"
    status = 409
    title = "The deadline for positions has passed"


class NotParticipant(ECabinetError):
    code = "not_participant"
    status = 403
    title = "Only the meeting's participants may do this"


class AlreadyCheckedIn(ECabinetError):
    code = "already_checked_in"
    status = 409
    title = "Already checked in"


class FloorNotAllowed(ECabinetError):
    code = "floor_not_allowed"
    status = 403
    title = "You are not invited to speak on this item"


class AlreadyRequested(ECabinetError):
    code = "floor_already_requested"
    status = 409
    title = "You are already on the speakers' list for this item"


class InvalidMeetingData(ECabinetError):
    code = "invalid_meeting_data"
    status = 422
    title = "The meeting data is not valid"


class InvalidAgendaOrder(ECabinetError):
    code = "invalid_agenda_order"
    status = 422
    title = "The new order must list every item of the agenda exactly once"


class VersionRequired(ECabinetError):
    code = "version_required"
    status = 428
    title = "Say which version you edited: send If-Match or a version field"


class ConsentNotPossible(ECabinetError):
    code = "consent_not_possible"
    status = 409
    title = "The consent block cannot be changed now"


# --- the live session (meetings.live) ---------------------------------------------------------


class NotCheckedIn(ECabinetError):
    code = "not_checked_in"
    status = 409
    title = "Not checked in to this meeting"


class SubstitutesNotAllowed(ECabinetError):
    code = "substitutes_not_allowed"
    status = 409
    title = "This meeting does not allow substitutes"


class FloorTaken(ECabinetError):
    code = "floor_taken"
    status = 409
    title = "Someone else has the floor; end it first"


class FloorNotRequested(ECabinetError):
    code = "floor_not_requested"
    status = 409
    title = "There is no such open request to speak"


# --- after the session: decisions, follow-up tasks, minutes (meetings.followup) ---------------


class InvalidTaskData(ECabinetError):
    code = "invalid_task_data"
    status = 422
    title = "The follow-up task data is not valid"


class MinutesWrongState(ECabinetError):
    code = "minutes_wrong_state"
    status = 409
    title = "That is not possible for the minutes in their current state"


class MinutesFrozen(ECabinetError):
    code = "minutes_frozen"
    status = 409
    title = "The minutes are approved and can no longer change"
