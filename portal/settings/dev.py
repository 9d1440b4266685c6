from portal.settings.base import *  # noqa: F403
from portal.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://*.localhost
