// The verb docs' "TCP server handles message protocol" test (their "Testing TCP Server" section),
// verbatim apart from the import lines: `bun:test` → vitest, `verb/testing` →
// @verb-tcp/core/testing, plus the import of MessageHandler that the verb docs had in scope.
// Excluded from tsc (tsconfig.json): as written, `response` is `unknown` under strict mode.
import { test, expect } from "vitest";
import { createTCPClient, createTCPServer } from "@verb-tcp/core/testing";
import { MessageHandler } from "../src/index.ts";

test("TCP server handles message protocol", async () => {
  const server = createTCPServer({
    port: 0,
    onConnection: (socket) => {
      const messageHandler = new MessageHandler(socket);
      
      messageHandler.on("message", (message) => {
        messageHandler.sendMessage({
          type: "response",
          echo: message.data
        });
      });
    }
  });
  
  const client = createTCPClient();
  const serverAddress = server.address();
  
  await client.connect(serverAddress.port, "localhost");
  
  const messageHandler = new MessageHandler(client);
  
  messageHandler.sendMessage({
    type: "test",
    data: "Hello Server!"
  });
  
  const response = await new Promise((resolve) => {
    messageHandler.on("message", resolve);
  });
  
  expect(response.type).toBe("response");
  expect(response.echo).toBe("Hello Server!");
  
  client.destroy();
  server.close();
});
