# Produces python.txt: an exception with its cause, formatted the way
# OpenTelemetry Python's Span.record_exception writes exception.stacktrace
# ("".join(traceback.format_exception(type, value, traceback))).
import traceback


class OrderNotFound(Exception):
    pass


ORDERS = {1: "book"}


def load_order(order_id):
    try:
        return ORDERS[order_id]
    except KeyError as error:
        raise OrderNotFound(f"order {order_id} not found") from error


def view_order(request):
    return {"order": load_order(request["id"])}


def handle(request):
    try:
        return view_order(request)
    except OrderNotFound as exception:
        return "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))


print(handle({"id": 3}), end="")
