// The fan API under /api, in one router: a drop's public view (fan-drop-routes.ts),
// the line (fan-queue-routes.ts), holds and purchases (fan-hold-routes.ts) and
// orders (fan-order-routes.ts), ticket transfers (fan-transfer-routes.ts), resale (fan-resale-routes.ts), a registered window's registration and draw (fan-registration-routes.ts), and the turn mail a fan in line asks for (fan-notice-routes.ts). Each file keeps its own routes; this router holds
// them all in one list, so a request is matched once, in the order given here.
import { type IRequest, Router } from "itty-router";
import { fanDropRoutes } from "./fan-drop-routes";
import { fanHoldRoutes } from "./fan-hold-routes";
import { fanOrderRoutes } from "./fan-order-routes";
import { fanQueueRoutes } from "./fan-queue-routes";
import { fanResaleRoutes } from "./fan-resale-routes";
import { fanTransferRoutes } from "./fan-transfer-routes";
import { fanRegistrationRoutes } from "./fan-registration-routes";
import { fanNoticeRoutes } from "./fan-notice-routes";

type Args = [Env, ExecutionContext];

export const fanRouter = Router<IRequest, Args>({ base: "/api" });

fanRouter.routes.push(...fanDropRoutes.routes, ...fanQueueRoutes.routes, ...fanNoticeRoutes.routes, ...fanHoldRoutes.routes, ...fanOrderRoutes.routes, ...fanTransferRoutes.routes, ...fanRegistrationRoutes.routes, ...fanResaleRoutes.routes);
