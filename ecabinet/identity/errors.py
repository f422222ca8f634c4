from ecabinet.errors import ECabinetError


class BadCredentials(ECabinetError):
    code = "bad_credentials"
    status = 401
    title = "Wrong user name or password"


class MfaRequired(ECabinetError):
    code = "mfa_required"
    status = 401
    title = "A one-time code from your authenticator app is required"


class MfaInvalid(ECabinetError):
    code = "mfa_invalid"
    status = 401
    title = "The one-time code is wrong, expired or already used"


class MfaNotEnrolled(ECabinetError):
    code = "mfa_not_enrolled"
    status = 403
    title = "Set up your authenticator app in the browser before signing in from a device"


class MfaAlreadyEnrolled(ECabinetError):
    code = "mfa_already_enrolled"
    status = 409
    title = "An authenticator is already set up for this account"


class LoginThrottled(ECabinetError):
    code = "login_throttled"
    status = 429
    title = "Too many failed attempts; wait before trying again"


class LoginLocked(ECabinetError):
    code = "login_locked"
    status = 429
    title = "Sign-in is locked after too many failed attempts; the security officer can unlock it"


class SessionExpired(ECabinetError):
    code = "session_expired"
    status = 401
    title = "Your session has expired; sign in again"


class TokenInvalid(ECabinetError):
    code = "token_invalid"
    status = 401
    title = "The bearer token is unknown, expired or revoked"


class InvalidLevel(ECabinetError):
    code = "invalid_level"
    status = 422
    title = "Unknown clearance level"


class LastAdmin(ECabinetError):
    code = "last_admin"
    status = 409
    title = "The last active administrator cannot be disabled or demoted"
