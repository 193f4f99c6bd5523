// Guara Cloud audit log: small enhancements on top of pages that work without
// JavaScript. Local times, expandable rows, copy buttons, "Load more" that
// appends rows, raw JSON shown in place, and a filter form that builds the
// canonical URL itself.
(function () {
  'use strict';

  var root = document.documentElement;
  root.classList.remove('no-js');
  root.classList.add('js');

  var dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: '2-digit' });
  var clockFormat = new Intl.DateTimeFormat(undefined, {
    hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short'
  });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'your time zone';

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  // localDateTime formats a Date as a datetime-local value in the viewer's zone.
  function localDateTime(d) {
    var s = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
    return d.getSeconds() ? s + ':' + pad(d.getSeconds()) : s;
  }

  // localize shows every <time> below node in the viewer's time zone, the
  // zone named; the title keeps the ISO time as stored.
  function localize(node) {
    node.querySelectorAll('time[datetime]').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      var date = el.querySelector('.date');
      var clock = el.querySelector('.clock');
      if (isNaN(d.getTime()) || !date || !clock) { return; }
      date.textContent = dateFormat.format(d);
      clock.textContent = clockFormat.format(d);
    });
  }

  function init() {
    localize(document);
    var note = document.getElementById('tz-note');
    if (note) {
      note.textContent = 'Times are in your time zone, ' + zone + '.';
      var hint = document.createElement('span');
      hint.className = 'hover-hint';
      hint.textContent = ' Hover a time for its exact ISO timestamp.';
      note.appendChild(hint);
    }
    document.querySelectorAll('.tz-hint').forEach(function (el) { el.textContent = '(your time)'; });
    initFilters(document.getElementById('filters'));
    document.addEventListener('click', onClick);
    document.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Escape') { return; }
      document.querySelectorAll('details.picker[open]').forEach(function (d) {
        d.open = false;
        d.querySelector('summary').focus();
      });
    });
    window.addEventListener('pageshow', function () { setBusy(false); });
  }

  // ---- Filters -------------------------------------------------------------

  function initFilters(form) {
    if (!form) { return; }
    var box = form.querySelector('details.filter-box');
    var phone = window.matchMedia('(max-width: 760px)');
    if (box && phone.matches) { box.open = false; }
    if (box && phone.addEventListener) {
      phone.addEventListener('change', function () { if (!phone.matches) { box.open = true; } });
    }
    var range = form.elements.range;
    var custom = document.getElementById('custom-range');
    ['from', 'to'].forEach(function (name) {
      var input = form.elements[name];
      var iso = input && input.getAttribute('data-iso');
      var d = iso ? new Date(iso) : null;
      if (d && !isNaN(d.getTime())) { input.value = localDateTime(d); }
    });
    if (range && custom) {
      range.addEventListener('change', function () {
        var on = range.value === 'custom';
        custom.toggleAttribute('data-inactive', !on);
        if (on) { form.elements.from.focus(); }
      });
    }
    form.addEventListener('change', function (ev) {
      var t = ev.target;
      if (t.hasAttribute('data-family')) {
        form.querySelectorAll('input[data-member="' + t.getAttribute('data-family') + '"]').forEach(function (m) {
          m.checked = t.checked;
          m.disabled = t.checked;
        });
      }
      form.querySelectorAll('details.picker').forEach(updateSummary);
    });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var query = canonicalQuery(form);
      setBusy(true);
      window.location.assign(form.getAttribute('action') + (query ? '?' + query : ''));
    });
  }

  // updateSummary shows what a picker holds: none, one value, or a count.
  function updateSummary(picker) {
    var picked = [];
    picker.querySelectorAll('input[type=checkbox]').forEach(function (c) {
      if (c.checked && !c.disabled) { picked.push(c.value); }
    });
    var out = picker.querySelector('.picker-value');
    out.textContent = picked.length === 0 ? out.getAttribute('data-none') :
      picked.length === 1 ? picked[0] : picked.length + ' selected';
  }

  // canonicalQuery builds the URL query the server would redirect to: the
  // API's parameter names, no empty values, custom dates as UTC RFC 3339.
  function canonicalQuery(form) {
    var params = new URLSearchParams();
    var rangeValue = form.elements.range ? form.elements.range.value : '';
    var preset = rangeValue !== '' && rangeValue !== 'custom';
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.value === '') { return; }
      if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) { return; }
      if (el.name === 'outcome' && el.value === 'all') { return; }
      if (el.name === 'range' && el.value === 'custom') { return; }
      if (el.name === 'from' || el.name === 'to') {
        if (preset) { return; }
        var d = new Date(el.value);
        if (isNaN(d.getTime())) { params.append(el.name, el.value); return; }
        params.append(el.name === 'from' ? 'since' : 'until', d.toISOString().replace('.000Z', 'Z'));
        return;
      }
      params.append(el.name, el.value);
    });
    return params.toString();
  }

  function setBusy(busy) {
    var results = document.getElementById('results');
    var loading = document.getElementById('loading');
    if (results) { results.setAttribute('aria-busy', busy ? 'true' : 'false'); }
    if (loading) { loading.hidden = !busy; }
  }

  // ---- Clicks: pickers, rows, copy buttons, load more ---------------------

  function onClick(ev) {
    var t = ev.target;
    document.querySelectorAll('details.picker[open]').forEach(function (d) {
      if (!d.contains(t)) { d.open = false; }
    });
    var copy = t.closest('button.copy');
    if (copy) { copyText(copy); return; }
    var raw = t.closest('a.raw-link');
    if (raw && ev.button === 0 && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && !ev.altKey) {
      ev.preventDefault();
      showRaw(raw);
      return;
    }
    var more = t.closest('#load-more');
    if (more) { ev.preventDefault(); loadMore(more); return; }
    var toggle = t.closest('button.toggle');
    if (!toggle) {
      var row = t.closest('tr.summary');
      if (!row || t.closest('a, button, input, select, label') || String(window.getSelection()) !== '') { return; }
      toggle = row.querySelector('button.toggle');
    }
    if (toggle) { toggleRow(toggle); }
  }

  function toggleRow(button) {
    var open = button.getAttribute('aria-expanded') !== 'true';
    var detail = document.getElementById(button.getAttribute('aria-controls'));
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (detail) {
      detail.classList.toggle('is-open', open);
      detail.parentNode.classList.toggle('is-open', open);
    }
  }

  // showRaw shows the raw JSON of an entry too large or too deep for its
  // panel under the link, fetched once; the link then hides and shows it.
  // When it cannot be fetched (a session that ended, say), the link is followed.
  function showRaw(link) {
    var box = link.closest('.omitted');
    var pre = box.querySelector('pre.raw');
    if (pre) {
      pre.hidden = !pre.hidden;
      link.textContent = pre.hidden ? 'Show raw JSON' : 'Hide raw JSON';
      return;
    }
    if (link.getAttribute('aria-busy') === 'true') { return; }
    link.setAttribute('aria-busy', 'true');
    fetch(link.href, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (res) {
        var type = res.headers.get('Content-Type') || '';
        if (!res.ok || type.indexOf('application/json') !== 0) { throw new Error('no JSON'); }
        return res.text();
      })
      .then(function (text) {
        pre = document.createElement('pre');
        pre.className = 'json raw';
        pre.tabIndex = 0;
        pre.setAttribute('aria-label', 'Raw JSON of the entry, as stored');
        pre.appendChild(document.createElement('code')).textContent = text;
        box.appendChild(pre);
        link.removeAttribute('aria-busy');
        link.textContent = 'Hide raw JSON';
      })
      .catch(function () { window.location.assign(link.href); });
  }

  function copyText(button) {
    var value = button.getAttribute('data-copy');
    var done = function () {
      var label = button.firstChild;
      button.classList.add('is-copied');
      label.textContent = 'Copied';
      announce('Copied ' + value);
      setTimeout(function () { button.classList.remove('is-copied'); label.textContent = 'Copy'; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, function () { fallbackCopy(value) && done(); });
    } else if (fallbackCopy(value)) {
      done();
    }
  }

  // fallbackCopy copies through a temporary text field, for plain-HTTP origins.
  function fallbackCopy(value) {
    var area = document.createElement('textarea');
    area.value = value;
    area.setAttribute('readonly', '');
    area.className = 'sr-only';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function announce(text, isError) {
    var status = document.getElementById('more-status');
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle('is-error', !!isError);
  }

  // loadMore fetches the next page's rows and appends them; the link itself
  // still works as a plain link to the next page.
  function loadMore(link) {
    if (link.getAttribute('aria-disabled') === 'true') { return; }
    link.setAttribute('aria-disabled', 'true');
    link.textContent = 'Loading…';
    announce('Loading more entries…');
    fetch(link.getAttribute('data-fragment'), { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (res) {
        return res.text().then(function (body) { return { ok: res.ok, body: body }; });
      })
      .then(function (res) {
        var doc = new DOMParser().parseFromString(res.body, 'text/html');
        var problem = doc.querySelector('[data-problem]');
        if (!res.ok || problem) {
          throw { shown: problem ? problem.textContent : 'More entries could not be loaded. Try again in a moment.' };
        }
        var table = document.getElementById('entries');
        var rows = Array.prototype.slice.call(doc.querySelectorAll('tbody.entry'));
        rows.forEach(function (row) {
          var node = document.importNode(row, true);
          localize(node);
          table.appendChild(node);
        });
        var count = document.getElementById('row-count');
        if (count) { count.textContent = String(table.querySelectorAll('tbody.entry').length); }
        var next = doc.getElementById('more');
        var current = document.getElementById('more');
        if (next && current) { current.replaceWith(document.importNode(next, true)); }
        announce(rows.length + ' more ' + (rows.length === 1 ? 'entry' : 'entries') + ' loaded.');
        if (rows.length) {
          var first = document.getElementById(rows[0].id);
          var button = first && first.querySelector('button.toggle');
          if (button) { button.focus(); }
        }
      })
      .catch(function (err) {
        link.removeAttribute('aria-disabled');
        link.textContent = 'Try again';
        announce(err && err.shown ? err.shown : 'More entries could not be loaded. Check your connection and try again.', true);
      });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
