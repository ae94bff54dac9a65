from django.conf import settings


def service(request):
    return {
        "SERVICE_NAME": settings.SERVICE_NAME,
        "SERVICE_DOMAIN": settings.SERVICE_DOMAIN,
        "SUPPORT_ADDRESS": settings.SUPPORT_ADDRESS,
    }
