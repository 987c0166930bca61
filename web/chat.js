// The tether serve demo: a chat over Socket.IO. Sending emits "message" with
// the text; the server prints it and relays it to the other pages as
// "message" with the sender's id and the text.
(() => {
  'use strict';

  const status = document.getElementById('status');
  const list = document.getElementById('messages');
  const form = document.getElementById('form');
  const input = document.getElementById('message');
  const send = document.getElementById('send');

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    const usable = state === 'connected';
    input.disabled = !usable;
    send.disabled = !usable;
  }

  // textContent, never innerHTML: messages come from other people.
  function add(cls, from, text) {
    const li = document.createElement('li');
    li.className = cls;
    if (from) {
      const who = document.createElement('span');
      who.className = 'from';
      who.textContent = from;
      li.append(who);
    }
    li.append(document.createTextNode(text));
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  // The bundle's script tag failed: it is not installed (see index.html).
  if (typeof io !== 'function') {
    document.getElementById('missing').hidden = false;
    setStatus('unavailable', 'client bundle missing');
    return;
  }

  const socket = io();

  socket.on('connect', () => {
    setStatus('connected', `connected as ${socket.id}`);
    add('info', '', 'connected');
    input.focus();
  });
  socket.on('disconnect', (reason) => {
    setStatus('disconnected', 'disconnected');
    add('info', '', `disconnected (${reason})`);
  });
  socket.io.on('reconnect_attempt', () => setStatus('connecting', 'reconnecting…'));
  socket.on('connect_error', (err) => setStatus('disconnected', `cannot connect: ${err.message}`));

  socket.on('message', (from, text) => {
    add('theirs', from, typeof text === 'string' ? text : JSON.stringify(text));
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text === '' || !socket.connected) return;
    socket.emit('message', text);
    add('mine', 'you', text);
    input.value = '';
    input.focus();
  });
})();
