// The CommonJS half of node.mjs.
'use strict';

const orders = new Map([[1, 'book']]);

function loadOrder(id) {
	if (!orders.has(id)) throw new RangeError('order ' + id + ' not found');
	return orders.get(id);
}

module.exports = { loadOrder };
