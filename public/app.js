// Switchyard status page: plain browser JavaScript, no build step. It reads the REST API with
// the token stored in localStorage and listens to the live feed (/v1/live?token=...).
(function () {
  'use strict';
  var TOKEN_KEY = 'switchyard.token';
  var MAX_EVENTS = 200;
  var $ = function (id) {
    return document.getElementById(id);
  };
  var ws = null;
  var reconnectDelay = 1000;
  var refreshTimer = null;

  function token() {
    return localStorage.getItem(TOKEN_KEY);
  }

  function text(value) {
    return value === undefined || value === null || value === '' ? '-' : String(value);
  }

  function cell(row, value, cls) {
    var td = document.createElement('td');
    td.textContent = text(value);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function showLogin(message) {
    if (ws) {
      ws.onclose = null;
      ws.close();
      ws = null;
    }
    $('dashboard').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    setFeed(false, 'offline');
  }

  function setFeed(on, label) {
    var el = $('feed-state');
    el.className = 'pill ' + (on ? 'on' : 'off');
    el.textContent = 'feed: ' + label;
  }

  async function api(path) {
    var res = await fetch(path, {
      headers: { authorization: 'Bearer ' + token(), accept: 'application/json' },
    });
    var body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (res.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      showLogin('The token was refused (401).');
      throw new Error('401');
    }
    if (!res.ok)
      throw new Error(
        path + ': ' + res.status + ' ' + (body && body.error ? body.error.message : ''),
      );
    return body;
  }

  function items(body) {
    return Array.isArray(body) ? body : body && Array.isArray(body.items) ? body.items : [];
  }

  function renderAgents(agents) {
    var tbody = $('agents').querySelector('tbody');
    tbody.textContent = '';
    agents.forEach(function (a) {
      var tr = document.createElement('tr');
      tr.dataset.agentId = a.id;
      cell(tr, a.id);
      cell(tr, a.status, 's-' + a.status);
      cell(tr, a.load + '/' + a.maxLoad);
      cell(tr, typeof a.healthScore === 'number' ? a.healthScore.toFixed(2) : a.healthScore);
      cell(tr, (a.capabilities || []).join(', '));
      cell(tr, a.lastHeartbeatAt);
      tbody.appendChild(tr);
    });
    $('agent-count').textContent = '(' + agents.length + ')';
  }

  function renderQueue(counts) {
    var dl = $('queue');
    dl.textContent = '';
    Object.keys(counts || {}).forEach(function (k) {
      var dt = document.createElement('dt');
      dt.textContent = k;
      var dd = document.createElement('dd');
      dd.textContent = text(typeof counts[k] === 'object' ? JSON.stringify(counts[k]) : counts[k]);
      dd.dataset.count = k;
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
  }

  function renderBreakers(breakers) {
    var tbody = $('breakers').querySelector('tbody');
    tbody.textContent = '';
    if (breakers.length === 0) {
      var tr = document.createElement('tr');
      cell(tr, 'none yet (every agent starts closed)').colSpan = 3;
      tbody.appendChild(tr);
    }
    breakers.forEach(function (b) {
      var tr = document.createElement('tr');
      tr.dataset.agentId = b.agentId;
      cell(tr, b.agentId);
      cell(tr, b.state, 's-' + b.state);
      cell(tr, b.threshold !== undefined ? (b.failures || 0) + '/' + b.threshold : b.failures);
      tbody.appendChild(tr);
    });
  }

  // Each panel loads on its own: a module that is missing or down does not blank the others.
  async function refresh() {
    var errors = [];
    await Promise.all(
      [
        api('/v1/agents?limit=1000').then(function (b) {
          renderAgents(items(b));
        }),
        api('/v1/queue').then(renderQueue),
        api('/v1/circuit-breakers').then(function (b) {
          renderBreakers(items(b));
        }),
      ].map(function (p) {
        return p.catch(function (e) {
          errors.push(e.message);
        });
      }),
    );
    $('error').textContent = errors
      .filter(function (m) {
        return m !== '401';
      })
      .join(' · ');
  }

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      refresh();
    }, 300);
  }

  function addEvent(seq, e) {
    var li = document.createElement('li');
    li.dataset.type = e.type;
    if (e.taskId) li.dataset.taskId = e.taskId;
    li.className = 't-' + e.type.replace('.', '-');
    var ids = ['workflowId', 'taskId', 'agentId', 'capability']
      .filter(function (k) {
        return e[k];
      })
      .map(function (k) {
        return k.replace('Id', '') + '=' + e[k];
      });
    var extra = e.data ? ' ' + JSON.stringify(e.data).slice(0, 160) : '';
    li.textContent =
      '#' + seq + ' ' + (e.at || '').slice(11, 23) + ' ' + e.type + ' ' + ids.join(' ') + extra;
    var list = $('events');
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild);
  }

  function connect() {
    var url =
      (location.protocol === 'https:' ? 'wss://' : 'ws://') +
      location.host +
      '/v1/live?token=' +
      encodeURIComponent(token());
    setFeed(false, 'connecting');
    ws = new WebSocket(url);
    ws.onmessage = function (m) {
      var msg;
      try {
        msg = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      if (msg.type === 'welcome') {
        reconnectDelay = 1000;
        $('whoami').textContent = msg.name + ' (' + msg.role + ') on ' + msg.instanceId;
        ws.send(JSON.stringify({ type: 'subscribe', id: 'page', filters: {} }));
      } else if (msg.type === 'subscribed') {
        setFeed(true, 'live');
      } else if (msg.type === 'event') {
        addEvent(msg.seq, msg.event);
        scheduleRefresh();
      } else if (msg.type === 'dropped') {
        var li = document.createElement('li');
        li.textContent = msg.count + ' events dropped (this page was too slow)';
        $('events').insertBefore(li, $('events').firstChild);
        scheduleRefresh();
      }
    };
    ws.onclose = function (c) {
      ws = null;
      if (c.code === 4401) {
        localStorage.removeItem(TOKEN_KEY);
        showLogin('The live feed refused the token.');
        return;
      }
      setFeed(false, 'reconnecting');
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 30000);
    };
  }

  function start() {
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('logout').hidden = false;
    refresh();
    connect();
  }

  $('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    localStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
    $('token-input').value = '';
    start();
  });
  $('logout').addEventListener('click', function () {
    localStorage.removeItem(TOKEN_KEY);
    showLogin('');
  });
  // Periodic refresh as well, for changes that produce no event (e.g. heartbeats).
  setInterval(function () {
    if (token() && !$('dashboard').hidden) refresh();
  }, 15000);

  if (token()) start();
  else showLogin('');
})();
