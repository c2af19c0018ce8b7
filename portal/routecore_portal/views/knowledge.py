"""The enterprise's knowledge base: articles its admin writes and its seats search in Chinese
while they talk (B15, V5)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routecore_portal import audit, knowledge
from routecore_portal.access import member
from routecore_portal.models import ADMIN, Article
from routecore_portal.views.customers import enterprise_of


class ArticleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Article
        fields = ("title", "body")


class SearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("search"), required=False, max_length=100)


def _may_write(request: HttpRequest) -> bool:
    m = member(request)
    return m is not None and m.role == ADMIN


def article_list(request: HttpRequest) -> HttpResponse:
    enterprise = enterprise_of(request)
    form = SearchForm(request.GET or None)
    text = form.cleaned_data["q"] if form.is_valid() else ""
    new = ArticleForm(request.POST or None) if _may_write(request) else None
    if request.method == "POST":
        if new is None:
            raise Http404("no such page")
        if new.is_valid():
            article = new.save(commit=False)
            article.enterprise = enterprise
            article.save()
            audit.record(request, "article.create", article.title, enterprise=enterprise)
            messages.success(request, _("Saved."))
            return redirect("portal:articles")
    return render(
        request,
        "portal/articles.html",
        {"form": form, "new": new, "articles": knowledge.search(enterprise.pk, text), "q": text},
        status=400 if request.method == "POST" else 200,
    )


def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = enterprise_of(request)
    article = get_object_or_404(Article, pk=pk, enterprise=enterprise)
    edit = ArticleForm(request.POST or None, instance=article) if _may_write(request) else None
    if request.method == "POST":
        if edit is None:
            raise Http404("no such page")
        if edit.is_valid():
            edit.save()
            audit.record(request, "article.edit", article.title, enterprise=enterprise)
            return redirect("portal:article", pk=article.pk)
    return render(
        request,
        "portal/article.html",
        {"article": article, "edit": edit},
        status=400 if request.method == "POST" else 200,
    )
