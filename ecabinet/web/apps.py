from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class WebConfig(AppConfig):
    default = True
    name = "ecabinet.web"
    verbose_name = "Web shell"


class ECabinetAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "ecabinet.web.admin_site.ECabinetAdminSite"
