"""Two-factor sign-in: authenticator apps (TOTP), recovery codes, passkeys, the roles that must use one,
and the lock after too many wrong codes. One job per module; views call `core.mfa.factors`."""
