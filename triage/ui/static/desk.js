/* The desk's keyboard shortcuts (press ? on any page for the list). Plain JavaScript, no build step.
   Every shortcut has a visible control it stands for, so nothing here is needed to use the desk. */
(function () {
  "use strict";

  var pendingG = false;

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-item]"));
  }

  function selectedIndex(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("selected")) { return i; }
    }
    return -1;
  }

  function select(list, index) {
    if (!list.length) { return; }
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (row) { row.classList.remove("selected"); });
    var row = list[index];
    row.classList.add("selected");
    var link = row.querySelector("a.open");
    if (link) { link.focus(); }
  }

  function submit(selector, scope) {
    var form = (scope || document).querySelector(selector);
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); return true; }
    return false;
  }

  function queueKey(event) {
    var list = rows();
    var at = selectedIndex(list);
    switch (event.key) {
      case "j": case "ArrowDown": select(list, at + 1); return true;
      case "k": case "ArrowUp": select(list, at - 1); return true;
      case "o": case "Enter":
        if (at < 0) { return false; }
        var link = list[at].querySelector("a.open");
        if (link) { window.location.assign(link.href); }
        return true;
      case "c": return at >= 0 && submit("form.claim", list[at]);
      case "r": return at >= 0 && submit("form.release", list[at]);
      default: return false;
    }
  }

  function caseKey(event) {
    switch (event.key) {
      case "A": return submit("#approve-all");
      case "e":
        var editor = document.querySelector("textarea[data-draft='customer_update']") || document.querySelector("textarea[data-draft]");
        if (editor) { editor.closest("details") && (editor.closest("details").open = true); editor.focus(); return true; }
        return false;
      case "l":
        var label = document.getElementById("relabel-label");
        if (label) { label.closest("details") && (label.closest("details").open = true); label.focus(); return true; }
        return false;
      case "u": window.location.assign("/ui/queue"); return true;
      default: return false;
    }
  }

  function goKey(event) {
    var link = document.querySelector("a[data-go='" + event.key + "']");
    if (link) { window.location.assign(link.href); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var page = document.body.getAttribute("data-page");
    var handled = false;
    if (pendingG) {
      pendingG = false;
      handled = goKey(event);
    } else if (event.key === "g") {
      pendingG = true;
      handled = true;
    } else if (event.key === "?") {
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.showModal) { dialog.open ? dialog.close() : dialog.showModal(); handled = true; }
    } else if (event.key === "/") {
      var first = document.querySelector(".filters select, .filters input");
      if (first) { first.focus(); handled = true; }
    } else if (page === "queue") {
      // Enter on a focused link or button already does its job; only take it when the row itself is selected.
      handled = !(event.key === "Enter" && event.target.closest && event.target.closest("a,button")) && queueKey(event);
    } else if (page === "case") {
      handled = caseKey(event);
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.getAttribute("data-page") === "queue") {
      var list = rows();
      if (list.length) { select(list, 0); }
    }
  });
})();
