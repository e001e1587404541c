from django.shortcuts import render

from .models import Book


def book_list(request):
    """The classic N+1: one query for the books, then one per book for its
    author (no select_related)."""
    rows = [(book.title, book.author.name) for book in Book.objects.order_by("title")]
    return render(request, "books/book_list.html", {"rows": rows})


def boom(request):
    """Fails on purpose: with DEBUG on, Django answers its 500 debug page."""
    raise RuntimeError("boom: this view fails on purpose")
