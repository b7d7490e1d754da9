// The promoter API under /api/admin, in one router: drops (admin-drop-routes.ts),
// sales, exports and the audit (admin-sale-routes.ts), refunds and cancelling
// (admin-refund-routes.ts), and promoters, keys and the activity log
// (admin-promoter-routes.ts), sale windows' access codes (admin-code-routes.ts), a registered window's draw (admin-draw-routes.ts), webhooks (admin-webhook-routes.ts), the gate's settings (admin-gate-routes.ts) and its devices (gate-device-routes.ts), transfers (admin-transfer-routes.ts), resale (admin-resale-routes.ts). Every route goes through authorizeAdmin
// (src/tenants/auth.ts) first, once: the operator's token or a promoter's key, its
// role, and the drop of a /drops/:id path scoped to the key's promoter. So the
// routes of every file sit in this one router's list, behind that check.
import { type IRequest, Router } from "itty-router";
import { authorizeAdmin } from "../tenants/auth";
import { adminCodeRoutes } from "./admin-code-routes";
import { adminDrawRoutes } from "./admin-draw-routes";
import { adminDropRoutes } from "./admin-drop-routes";
import { adminGateRoutes } from "./admin-gate-routes";
import { adminPromoterRoutes } from "./admin-promoter-routes";
import { adminRefundRoutes } from "./admin-refund-routes";
import { adminResaleRoutes } from "./admin-resale-routes";
import { adminSaleRoutes } from "./admin-sale-routes";
import { adminTransferRoutes } from "./admin-transfer-routes";
import { adminWebhookRoutes } from "./admin-webhook-routes";
import { gateDeviceRoutes } from "./gate-device-routes";

type Args = [Env, ExecutionContext];

export const adminRouter = Router<IRequest, Args>({ base: "/api/admin" });

adminRouter.all("*", authorizeAdmin);
adminRouter.routes.push(...adminDropRoutes.routes, ...adminSaleRoutes.routes, ...adminRefundRoutes.routes, ...adminPromoterRoutes.routes, ...adminWebhookRoutes.routes, ...adminGateRoutes.routes, ...gateDeviceRoutes.routes, ...adminTransferRoutes.routes, ...adminCodeRoutes.routes, ...adminDrawRoutes.routes, ...adminResaleRoutes.routes);
