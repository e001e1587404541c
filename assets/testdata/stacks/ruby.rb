# Produces ruby.txt: Exception#full_message(highlight: false, order: :top),
# which OpenTelemetry Ruby's Span#record_exception writes as
# exception.stacktrace, for an error raised in a block with a cause.
class OrderNotFound < StandardError; end

ORDERS = { 1 => 'book' }.freeze

def load_order(id)
  ORDERS.fetch(id)
rescue KeyError
  raise OrderNotFound, "order #{id} not found"
end

def view_order(ids)
  ids.map { |id| load_order(id) }
end

begin
  view_order([3])
rescue OrderNotFound => e
  print e.full_message(highlight: false, order: :top)
end
