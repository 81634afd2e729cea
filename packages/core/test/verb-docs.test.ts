// @ts-nocheck: the verb docs' test is untyped (its `data` is `unknown`); it runs verbatim below,
// with vitest in place of bun:test and our import path. Biome skips verb-docs*.test.ts.
import { test, expect } from "vitest";
import { createTCPClient, createTCPServer } from "../src/testing.ts";

test("TCP server accepts connections", async () => {
  const server = createTCPServer({
    port: 0, // Random port
    onConnection: (socket) => {
      socket.write("Hello Client!");
    }
  });
  
  const client = createTCPClient();
  const serverAddress = server.address();
  
  await client.connect(serverAddress.port, "localhost");
  
  const data = await new Promise((resolve) => {
    client.on("data", resolve);
  });
  
  expect(data.toString()).toBe("Hello Client!");
  
  client.destroy();
  server.close();
});
