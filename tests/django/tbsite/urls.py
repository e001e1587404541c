from django.contrib import admin
from django.urls import path

from books import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("books/", views.book_list),
    path("boom/", views.boom),
]
