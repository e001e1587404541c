/* The DOM helper: every element is made by createElement and every value
   becomes a text node; nothing is ever parsed as markup. Children may be
   elements, strings, numbers, arrays of children (flattened) or null,
   undefined and false (skipped: DOM append(null) would print "null"). */

function add(parent, child) {
	if (child == null || child === false) return parent;
	if (Array.isArray(child)) for (const c of child) add(parent, c);
	else parent.append(child.nodeType ? child : String(child));
	return parent;
}

// append adds children; replace puts them in place of the old ones. Both
// return parent.
export const append = (parent, ...children) => add(parent, children);
export const replace = (parent, ...children) => { parent.replaceChildren(); return add(parent, children); };

export function el(tag, className, children) {
	const e = document.createElement(tag);
	if (className) e.className = className;
	return add(e, children);
}

export function setAttrs(e, attributes) {
	for (const name in attributes) e.setAttribute(name, attributes[name]);
	return e;
}

// A button; with a label, also its accessible name and tooltip.
export const button = (className, children, label) =>
	setAttrs(el('button', className, children), label ? { type: 'button', 'aria-label': label, title: label } : { type: 'button' });

// A button whose data-act names what a click does (see ui/events.js).
export const actionButton = (className, children, action, label, more) =>
	setAttrs(button(className, children, label), Object.assign({ 'data-act': action }, more));

export const percent = x => Math.max(0, Math.min(100, x * 100)) + '%';

// Places e across its container: left and width as fractions (0 to 1).
export function place(e, left, width) {
	e.style.left = percent(left);
	if (width != null) e.style.width = percent(width);
	return e;
}

// localStorage, when the page may use it.
export function remembered(key) {
	try { return localStorage.getItem(key); } catch (e) { return null; }
}
export function remember(key, value) {
	try { localStorage.setItem(key, value); } catch (e) { /* private mode, or storage blocked */ }
}
