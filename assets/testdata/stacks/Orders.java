// Produces java.txt: Throwable.printStackTrace, which OpenTelemetry Java
// writes as exception.stacktrace, for an exception with a cause thrown from
// a lambda through java.base frames. Run: java Orders.java
package shop;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.Optional;

public class Orders {
	static final Map<Integer, String> ORDERS = Map.of(1, "book");

	static String load(int id) {
		try {
			return Optional.ofNullable(ORDERS.get(id)).orElseThrow(() -> new IllegalArgumentException("no row " + id));
		} catch (IllegalArgumentException e) {
			throw new IllegalStateException("order " + id + " not found", e);
		}
	}

	static String view(int id) {
		return load(id);
	}

	public static void main(String[] args) {
		try {
			view(3);
		} catch (RuntimeException e) {
			StringWriter out = new StringWriter();
			e.printStackTrace(new PrintWriter(out));
			System.out.print(out);
		}
	}
}
