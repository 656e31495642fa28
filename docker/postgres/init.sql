-- A small inventory schema for the CDC replication example.
CREATE TABLE customers (
  id         integer PRIMARY KEY,
  first_name text NOT NULL,
  last_name  text NOT NULL,
  email      text UNIQUE NOT NULL
);
CREATE TABLE orders (
  id          integer PRIMARY KEY,
  customer_id integer REFERENCES customers(id),
  amount      numeric(10, 2) NOT NULL,
  status      text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
INSERT INTO customers VALUES
  (1001, 'Sally', 'Thomas', 'sally.thomas@example.com'),
  (1002, 'George', 'Bailey', 'gbailey@example.com'),
  (1003, 'Edward', 'Walker', 'ed@example.com');
INSERT INTO orders (id, customer_id, amount, status) VALUES
  (1, 1001, 19.99, 'new'), (2, 1002, 5.00, 'new'), (3, 1001, 120.50, 'shipped');
