<?php
// Produces php.txt: (string) $exception, PHP's own rendering (message, the
// file and line thrown at, "Stack trace:" and #n frames, then "Next" for a
// wrapping exception), as frameworks log it and store it in
// exception.stacktrace. Run: php php.php

class OrderNotFound extends RuntimeException {}

class Orders
{
    private array $rows = [1 => 'book'];

    public function load(int $id): string
    {
        try {
            return $this->row($id);
        } catch (OutOfBoundsException $e) {
            throw new OrderNotFound("order $id not found", 0, $e);
        }
    }

    private function row(int $id): string
    {
        if (!isset($this->rows[$id])) {
            throw new OutOfBoundsException("no row $id");
        }
        return $this->rows[$id];
    }
}

function view_order(array $request): array
{
    return array_map(fn ($id) => (new Orders())->load($id), $request);
}

try {
    view_order([3]);
} catch (OrderNotFound $e) {
    echo $e, "\n";
}
